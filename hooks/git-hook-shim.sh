#!/bin/sh
# Installed by labforge as hooks/pre-receive and hooks/post-receive of every repository and
# rewritten at each start: do not edit it there. It only hands git's hook input to the running
# server (over its unix socket); the server decides. Without the server, pushes are refused.
exec @LABFORGE@ hook @HOOK@
