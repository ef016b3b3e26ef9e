package redis_test

import "os"

const crashChildEnv = "PORTMQ_REDIS_CRASH_CHILD"

func crashChild() { os.Exit(3) }
