//go:build !linux

package subscribers

// hasACL: the BSDs' and macOS's ACLs are not read; the mode bits decide
// (documented in docs/operations.md).
func hasACL(string) bool { return false }
