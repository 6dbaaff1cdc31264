"""Installation settings the e2e runs use; the contract fixtures were recorded with them.

The gateway key pair is a test-only key: its public half is installed in every Workspace by the
hooks, and the gateway tests authenticate upstream with the private half.
"""

TEST_SEED = "e2e-seed"
GATEWAY_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFHvpng/GqwCDXQcQbNsiO7G+wS9DQT3CnGsFkBIO5sE cps1-gateway-test"
GATEWAY_PRIVATE_KEY = """-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACBR76Z4PxqsAg10HEGzbIjuxvsEvQ0E9wpxrBZASDubBAAAAJgM8KDDDPCg
wwAAAAtzc2gtZWQyNTUxOQAAACBR76Z4PxqsAg10HEGzbIjuxvsEvQ0E9wpxrBZASDubBA
AAAEBuDuCM7be5xFBVPgc758BquEZ/Q45zRsyx8pPUgjsKW1Hvpng/GqwCDXQcQbNsiO7G
+wS9DQT3CnGsFkBIO5sEAAAAEWNwczEtZ2F0ZXdheS10ZXN0AQIDBA==
-----END OPENSSH PRIVATE KEY-----
"""
MAX_RESYNC_SECONDS = 30
