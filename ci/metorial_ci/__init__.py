"""The CI glue of the metorial-apply GitHub Action (action.yml) and GitLab recipe
(examples/ci/gitlab/.gitlab-ci.yml): runs `metorial-apply` over a workspace's units and talks to
the forge — plan comments edited in place, the reviewed-plan gate before an apply, drift issues.

Standard library only: it runs right after the tool is installed (and in GitLab's slim image),
and everything it posts comes from files the tool wrote, never from the environment."""
