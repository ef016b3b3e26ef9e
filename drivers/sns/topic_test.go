package sns

import "testing"

func TestMaxBodySizeIsDocumented(t *testing.T) {
	if got := Capabilities(false).MaxBodySize; got != 196551 {
		t.Errorf("MaxBodySize = %d, the package doc says 196551", got)
	}
}
