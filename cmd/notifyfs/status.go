package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/notifyfs/notifyfs/subscribers/client"
)

func runStatus(args []string) error {
	set := newFlagSet("status", "[--format json|text] MOUNTPOINT")
	var format, socket string
	set.StringVar(&format, "format", "json", "json (one object; scripts read it) or text (aligned key: value lines)")
	socketFlag(set, &socket)
	pos, err := parse(set, args, "MOUNTPOINT")
	if err != nil {
		return err
	}
	if format != "text" && format != "json" {
		return usagef("status: --format must be text or json, not %q", format)
	}
	st, _, err := fetchStatus(pos[0], socket)
	if err != nil {
		return err
	}
	if format == "json" {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	keys := make([]string, 0, len(st))
	for k := range st {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := st[k]
		switch v.(type) {
		case map[string]any, []any:
			b, _ := json.Marshal(v)
			fmt.Printf("%-14s %s\n", k+":", b)
		default:
			fmt.Printf("%-14s %v\n", k+":", v)
		}
	}
	return nil
}

// fetchStatus asks the daemon of mnt (or at socket) for its status.
func fetchStatus(mnt, socket string) (map[string]any, client.Hello, error) {
	ctx := context.Background()
	c, err := dial(ctx, mnt, socket)
	if err != nil {
		return nil, client.Hello{}, err
	}
	defer c.Close()
	st, err := c.Status(ctx)
	return st, c.Hello(), err
}
