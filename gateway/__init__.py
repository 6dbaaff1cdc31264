"""The CPS1 SSH gateway: plain OpenSSH into any Workspace, relayed to the Workspace's own sshd.

`ssh <workspace>@gateway` or `ssh <user>+<workspace>@gateway`; see gateway/README.md.
"""
