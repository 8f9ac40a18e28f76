#pragma once
// The report page's style sheet, inlined into every report.html so the page
// needs nothing but itself.

namespace switchsim::reports {

inline constexpr const char* kReportCss = R"css(
:root { color-scheme: light; --ink: #1d2330; --muted: #5b6475; --rule: #d9dee7; --accent: #1f77b4; --bad: #b23b3b; --good: #2a7a3b; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink); background: #f5f7fa; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 32px 56px; background: #ffffff; min-height: 100vh; }
header { border-bottom: 3px solid var(--accent); margin-bottom: 18px; padding-bottom: 10px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--rule); }
h3 { font-size: 16px; margin: 22px 0 8px; }
p.meta, p.note { color: var(--muted); margin: 4px 0 10px; }
nav { font-size: 14px; margin: 6px 0 0; }
nav a { color: var(--accent); margin-right: 14px; text-decoration: none; display: inline-block; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13.5px; width: 100%; }
td { overflow-wrap: break-word; }
th, td { border-bottom: 1px solid var(--rule); padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: #eef2f7; font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) td { background: #fafbfd; }
td.nw { white-space: nowrap; }
td.wide { min-width: 200px; }
td.ok { color: var(--good); font-weight: 600; }
td.fail { color: var(--bad); font-weight: 600; }
figure { margin: 14px 0 22px; text-align: center; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--rule); border-radius: 4px; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
details { margin: 6px 0; border: 1px solid var(--rule); border-radius: 4px; padding: 4px 10px; }
details summary { cursor: pointer; font-weight: 600; }
code { font-family: "DejaVu Sans Mono", monospace; font-size: 13px; }
)css";

}  // namespace switchsim::reports
