package mountutil

import "testing"

// /proc/self/mountinfo escapes white space and backslashes in octal.
func TestUnescapeMount(t *testing.T) {
	if got := unescapeMount(`/mnt/with\040space\011tab\134x`); got != "/mnt/with space\ttab\\x" {
		t.Errorf("got %q", got)
	}
}
