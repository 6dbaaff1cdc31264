module cps1.local/netcheck

go 1.26
