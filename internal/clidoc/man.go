package clidoc

import (
	"fmt"
	"strings"
)

// Page is one man page: its file name and roff text.
type Page struct {
	Name, Text string
}

// ManPages returns prog(1) and one page per command, prog-CMD(1). intro
// is the description of prog(1); see is where the full reference lives.
func ManPages(prog, intro, see, date string, cmds []Command) []Page {
	var b strings.Builder
	header(&b, prog, date)
	fmt.Fprintf(&b, ".SH NAME\n%s \\- %s\n.SH SYNOPSIS\n", prog, roff(intro))
	for _, c := range cmds {
		fmt.Fprintf(&b, ".B %s %s\n%s\n.br\n", prog, c.Name, roff(c.Args))
	}
	fmt.Fprintf(&b, ".SH COMMANDS\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, ".TP\n.BR %s\\-%s (1)\n%s\n", prog, c.Name, roff(c.Summary))
	}
	fmt.Fprintf(&b, ".SH SEE ALSO\n%s\n", roff(see))
	pages := []Page{{prog + ".1", b.String()}}
	for _, c := range cmds {
		b.Reset()
		header(&b, prog+"-"+c.Name, date)
		fmt.Fprintf(&b, ".SH NAME\n%s\\-%s \\- %s\n.SH SYNOPSIS\n.B %s %s\n%s\n", prog, c.Name, roff(c.Summary), prog, c.Name, roff(c.Args))
		if fl := c.flags(); len(fl) > 0 {
			b.WriteString(".SH OPTIONS\n")
			for _, f := range fl {
				name := "\\-\\-" + roff(f.Name)
				if f.Shorthand != "" {
					name = "\\-" + roff(f.Shorthand) + ", " + name
				}
				if takesValue(f) {
					name += " \\fI" + strings.ToUpper(roff(f.Value.Type())) + "\\fR"
				}
				fmt.Fprintf(&b, ".TP\n.B %s\n%s", name, roff(f.Usage))
				if def := f.DefValue; takesValue(f) && def != "" && def != "[]" && def != "0" && def != "0s" {
					fmt.Fprintf(&b, " (default %s)", roff(def))
				}
				b.WriteString("\n")
			}
		}
		fmt.Fprintf(&b, ".SH SEE ALSO\n.BR %s (1)\n", prog)
		pages = append(pages, Page{prog + "-" + c.Name + ".1", b.String()})
	}
	return pages
}

func header(b *strings.Builder, name, date string) {
	fmt.Fprintf(b, ".\\\" Generated from the command's flag definitions; do not edit.\n.TH %s 1 %q %s\n",
		strings.ToUpper(roff(name)), date, "notifyfs")
}

// roff escapes text for roff: backslashes, and a leading dot or quote.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}
