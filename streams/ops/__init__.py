"""Local operations: services, the process stack, champion bootstrap, the demo, the live
traffic publisher and the terminal monitor."""
