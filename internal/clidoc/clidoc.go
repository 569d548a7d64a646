// Package clidoc writes the command's shell completions (bash, zsh,
// fish) and man pages from its flag definitions, so that they can never
// drift from the flags the command really takes.
package clidoc

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// Command is one subcommand.
type Command struct {
	Name, Args, Summary string
	// Flags are the command's flags; nil for none.
	Flags *pflag.FlagSet
}

// flags returns the visible flags of c, in definition order.
func (c Command) flags() []*pflag.Flag {
	var fl []*pflag.Flag
	if c.Flags == nil {
		return nil
	}
	c.Flags.SortFlags = false
	c.Flags.VisitAll(func(f *pflag.Flag) {
		if !f.Hidden {
			fl = append(fl, f)
		}
	})
	return fl
}

// takesValue says whether a flag is followed by a value.
func takesValue(f *pflag.Flag) bool { return f.Value.Type() != "bool" }

// Bash returns a bash completion script for prog.
func Bash(prog string, cmds []Command) string {
	var b strings.Builder
	fn := "_" + strings.ReplaceAll(prog, "-", "_")
	fmt.Fprintf(&b, "# bash completion for %s; generated from its flags.\n%s() {\n", prog, fn)
	b.WriteString("\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd=${COMP_WORDS[1]}\n")
	b.WriteString("\tif [ \"$COMP_CWORD\" -eq 1 ]; then\n")
	fmt.Fprintf(&b, "\t\tCOMPREPLY=($(compgen -W '%s' -- \"$cur\")); return\n\tfi\n", strings.Join(append(names(cmds), "help", "--version"), " "))
	b.WriteString("\tcase $cmd in\n")
	for _, c := range cmds {
		var all, valued []string
		for _, f := range c.flags() {
			all = append(all, "--"+f.Name)
			if f.Shorthand != "" {
				all = append(all, "-"+f.Shorthand)
			}
			if takesValue(f) {
				valued = append(valued, "--"+f.Name)
			}
		}
		fmt.Fprintf(&b, "\t%s)\n", c.Name)
		if len(valued) > 0 {
			// After a flag that takes a value, complete files (paths,
			// sockets) rather than flags.
			fmt.Fprintf(&b, "\t\tcase $prev in %s) COMPREPLY=($(compgen -f -- \"$cur\")); return;; esac\n", strings.Join(valued, "|"))
		}
		fmt.Fprintf(&b, "\t\tif [[ $cur == -* ]]; then COMPREPLY=($(compgen -W '%s' -- \"$cur\")); return; fi;;\n", strings.Join(all, " "))
	}
	fmt.Fprintf(&b, "\thelp) COMPREPLY=($(compgen -W '%s' -- \"$cur\")); return;;\n", strings.Join(names(cmds), " "))
	b.WriteString("\tesac\n\tCOMPREPLY=($(compgen -d -- \"$cur\"))\n}\n")
	fmt.Fprintf(&b, "complete -o filenames -F %s %s\n", fn, prog)
	return b.String()
}

// Zsh returns a zsh completion script for prog (for a directory on
// $fpath, named _PROG, or to source).
func Zsh(prog string, cmds []Command) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#compdef %s\n# zsh completion for %s; generated from its flags.\n_%s() {\n", prog, prog, prog)
	b.WriteString("\tlocal -a cmds\n\tcmds=(\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "\t\t%s\n", zq(c.Name+":"+c.Summary))
	}
	b.WriteString("\t)\n\tif (( CURRENT == 2 )); then _describe command cmds; return; fi\n\tcase $words[2] in\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "\t%s) _arguments", c.Name)
		for _, f := range c.flags() {
			arg := ""
			if takesValue(f) {
				arg = ":" + f.Name + ":_files"
			}
			spec := "--" + f.Name + "[" + zEscape(f.Usage) + "]" + arg
			if f.Shorthand != "" {
				spec = "{-" + f.Shorthand + ",--" + f.Name + "}" + zq("["+zEscape(f.Usage)+"]"+arg)
				fmt.Fprintf(&b, " \\\n\t\t%s", spec)
				continue
			}
			fmt.Fprintf(&b, " \\\n\t\t%s", zq(spec))
		}
		b.WriteString(" \\\n\t\t'*:path:_files';;\n")
	}
	fmt.Fprintf(&b, "\thelp) _describe command cmds;;\n\tesac\n}\ncompdef _%s %s\n", prog, prog)
	return b.String()
}

// Fish returns a fish completion script for prog.
func Fish(prog string, cmds []Command) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# fish completion for %s; generated from its flags.\ncomplete -c %s -f\n", prog, prog)
	for _, c := range cmds {
		fmt.Fprintf(&b, "complete -c %s -n __fish_use_subcommand -a %s -d %s\n", prog, c.Name, fq(c.Summary))
	}
	fmt.Fprintf(&b, "complete -c %s -n '__fish_seen_subcommand_from help' -a %s\n", prog, fq(strings.Join(names(cmds), " ")))
	for _, c := range cmds {
		cond := fq("__fish_seen_subcommand_from " + c.Name)
		fmt.Fprintf(&b, "complete -c %s -n %s -F\n", prog, cond)
		for _, f := range c.flags() {
			line := fmt.Sprintf("complete -c %s -n %s -l %s", prog, cond, f.Name)
			if f.Shorthand != "" {
				line += " -s " + f.Shorthand
			}
			if takesValue(f) {
				line += " -r"
			}
			b.WriteString(line + " -d " + fq(f.Usage) + "\n")
		}
	}
	return b.String()
}

func names(cmds []Command) []string {
	var n []string
	for _, c := range cmds {
		n = append(n, c.Name)
	}
	sort.Strings(n)
	return n
}

// zq quotes for zsh (single quotes).
func zq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// zEscape escapes what _arguments gives meaning to inside [...].
func zEscape(s string) string {
	return strings.NewReplacer("[", `\[`, "]", `\]`, ":", `\:`).Replace(s)
}

// fq quotes for fish (single quotes).
func fq(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}
