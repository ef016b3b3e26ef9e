package postgres

// SetTestHooks sets functions called each time a receive found nothing
// and starts to wait (idle), and each time a listener has (re)connected
// and woken its receives (listening); nil removes one. Tests set them
// before opening handles and remove them when done.
func SetTestHooks(idle, listening func()) { testHookIdle, testHookListening = idle, listening }
