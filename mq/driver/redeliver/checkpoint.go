package redeliver

import (
	"strconv"
	"strings"
)

// A log backend (Kafka, Kinesis) that commits a position cannot count the
// deliveries of a message a reader crashed on: the next reader starts at
// the committed position as if nothing had happened. The driver commits,
// beside the position of the first unsettled message, how many times that
// message was handed out, in the commit's metadata; the reader that takes
// over reads it and starts that message's attempts there, so that crashes
// count toward max attempts.

// checkpointPrefix starts the checkpoint metadata:
// "portmq:POSITION:DELIVERED".
const checkpointPrefix = "portmq:"

// FormatCheckpoint returns the commit metadata saying that the message at
// position pos was delivered delivered times.
func FormatCheckpoint(pos string, delivered int) string {
	return checkpointPrefix + pos + ":" + strconv.Itoa(delivered)
}

// ParseCheckpoint reads commit metadata FormatCheckpoint wrote. It reports
// false for anything else (someone else's metadata, a damaged one, a
// negative count); the count is capped at MaxDelivered.
func ParseCheckpoint(md string) (pos string, delivered int, ok bool) {
	rest, found := strings.CutPrefix(md, checkpointPrefix)
	i := strings.LastIndexByte(rest, ':')
	if !found || i < 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(rest[i+1:])
	if err != nil || n < 0 {
		return "", 0, false
	}
	return rest[:i], min(n, MaxDelivered), true
}
