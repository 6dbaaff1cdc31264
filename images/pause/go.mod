module cps1.local/pause

go 1.26
