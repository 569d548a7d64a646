package main

import (
	"context"
	"fmt"
)

func runSync(args []string) error {
	set := newFlagSet("sync", "MOUNTPOINT")
	var socket string
	socketFlag(set, &socket)
	pos, err := parse(set, args, "MOUNTPOINT")
	if err != nil {
		return err
	}
	ctx := context.Background()
	c, err := dial(ctx, pos[0], socket)
	if err != nil {
		return err
	}
	defer c.Close()
	seq, err := c.Sync(ctx)
	if err != nil {
		return err
	}
	fmt.Println(seq)
	return nil
}
