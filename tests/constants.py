"""Installation settings the e2e runs use; the contract fixtures were recorded with them."""

TEST_SEED = "e2e-seed"
GATEWAY_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGd7mVZ0Pq8sKkLmmnx0h3H8i3cUjS0Bv9tM0aPqj0yX cps1-gateway"
MAX_RESYNC_SECONDS = 30
