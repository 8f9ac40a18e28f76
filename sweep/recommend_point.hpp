#pragma once
// A `recommend` point of a sweep (docs/sweep.md): the request keys are the
// `switchsim recommend` flags without dashes, `-` as `_` (cli/cmd_recommend.cpp,
// with the same defaults), and its line's result is recommend's JSON result
// (planner/recommend_output.hpp) without "wall_s" (a line depends only on its
// point) and with each recommendation's "mfu" added (op_accounting.hpp's model
// FLOPs convention, against the what-if's peak), which the CSV headline uses.
//
// Threads: a sweep already runs points in parallel (threads, ranks), so each
// point's planner runs on one thread (SearchOptions::threads = 1): N sweep
// threads keep N cores busy, not N x cores. recommend's result does not depend
// on its thread count (planner/recommend.hpp), and each point's planner has its
// own collective memo (recommend() makes one per call), so results are the same
// for any sweep thread or rank count.

#include <string>

#include "common/json_io.hpp"
#include "sweep/what_if.hpp"

namespace switchsim::sweep {

// Refuses a key of `obj` that is not a recommend request key (nearest known one in the error).
void check_recommend_keys(const json& obj, const std::string& where);
// Checks one key's value (type, and the parsers' own checks where they need no
// mesh); errors name `where`.
void check_recommend_value(const std::string& key, const json& value, const std::string& where);
// Runs recommend for the request `inputs` ("what_if" skipped) on the machine
// changed by `w`; returns its JSON result. `force`: as recommend --force.
[[nodiscard]] json run_recommend_point(const json& inputs, const WhatIf& w, bool force);

}  // namespace switchsim::sweep
