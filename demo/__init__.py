"""The demo's loopback services: a leaderboard site whose pages change by day with an
arXiv-compatible API (``site``), and a fake Slack that records what it receives (``fake_slack``).
`make demo` (``demo.week``) replays a week of the loop against them."""
