"""`aoai demo`: the whole story on this machine, from an empty chain to holders paid by the API.

`plan` (who plays which part, the jobs' settings), `cast` (the processes: anvil, IPFS, agents, gateway),
`progress` (live view from chain events), `revenue` (the gateway, paying users, dividend claims),
`report` (report.json, report.md, metrics.png) and `story` (the sequence, and stopping everything).
"""
