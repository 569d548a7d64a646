package mountopts

import (
	"reflect"
	"strings"
	"testing"
)

func TestTranslate(t *testing.T) {
	got, err := Translate(Split(`ro,rw,noauto,_netdev,x-systemd.automount,x-systemd.requires=a.service,allow_other,write_interval=2s,cluster=nats://a\,nats://b,defaults`), "ready-fd")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"--read-only", "--allow-other", "--write-interval=2s", "--cluster=nats://a,nats://b"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for _, bad := range []string{"ready-fd=3", "ready_fd", "=x", "-x"} {
		if _, err := Translate([]string{bad}, "ready-fd"); err == nil || !strings.Contains(err.Error(), "mount option") {
			t.Errorf("%q: err %v", bad, err)
		}
	}
}
