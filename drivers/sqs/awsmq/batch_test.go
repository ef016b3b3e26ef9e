package awsmq

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// TestEntryBatchesSplitsAtMaxBatchAndNumbersEachRun: 12 messages are a
// run of 10 and a run of 2, each numbered from 0, and FIFO IDs are set
// only for messages with a group.
func TestEntryBatchesSplitsAtMaxBatchAndNumbersEachRun(t *testing.T) {
	type entry struct {
		i             int
		id            string
		group, dedupe *string
	}
	enc := make([]Encoded, 12)
	for i := range enc {
		enc[i].Size = 1
	}
	enc[11].GroupID, enc[11].DedupID = "g", "d"
	var starts []int
	var runs [][]entry
	for start, entries := range EntryBatches(enc, 1<<20, func(i int, id *string) entry {
		g, d := enc[i].FIFO()
		return entry{i, aws.ToString(id), g, d}
	}) {
		starts = append(starts, start)
		runs = append(runs, append([]entry(nil), entries...))
	}
	if len(runs) != 2 || starts[0] != 0 || starts[1] != 10 || len(runs[0]) != 10 || len(runs[1]) != 2 {
		t.Fatalf("runs start at %v with %d runs, want 0 and 10 with 10 and 2 entries", starts, len(runs))
	}
	for _, run := range runs {
		for j, e := range run {
			if e.id != aws.ToString(BatchIDs[j]) || e.i != starts[0]+j && e.i != starts[1]+j {
				t.Errorf("entry %d of a run: message %d ID %q", j, e.i, e.id)
			}
		}
	}
	if last := runs[1][1]; aws.ToString(last.group) != "g" || aws.ToString(last.dedupe) != "d" || runs[1][0].group != nil || runs[1][0].dedupe != nil {
		t.Errorf("FIFO IDs: %+v, %+v", runs[1][0], last)
	}
	n := 0
	for range EntryBatches(enc, 1<<20, func(int, *string) int { return 0 }) {
		n++
		break
	}
	if n != 1 {
		t.Errorf("breaking out of the loop ran %d runs", n)
	}
}
