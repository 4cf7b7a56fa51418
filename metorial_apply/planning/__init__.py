"""desired × live → Plan: field diffs, the dependency graph, build_plan, safety rules,
saved plans. Pure; imports only core."""
