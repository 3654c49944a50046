package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idp-dev/idp/internal/testenv"
)

// TestSystemdUnit checks deploy/idp.service: it carries the hardening
// docs/deploy.md promises, docs/deploy.md shows it verbatim, and, where
// systemd-analyze is installed, `systemd-analyze verify` finds no problem
// and `systemd-analyze security` rates its exposure at most 2.0 ("OK").
func TestSystemdUnit(t *testing.T) {
	root := testenv.RepoRoot(t)
	unit, err := os.ReadFile(filepath.Join(root, "deploy", "idp.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes", "ProtectHome=yes",
		"PrivateTmp=yes", "PrivateDevices=yes", "CapabilityBoundingSet=\n", "SystemCallFilter=@system-service",
		"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "MemoryDenyWriteExecute=yes",
		"ExecStart=/usr/local/bin/idp serve", "KillSignal=SIGTERM",
	} {
		if !bytes.Contains(unit, []byte(want)) {
			t.Errorf("deploy/idp.service lacks %q", strings.TrimSpace(want))
		}
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, unit) {
		t.Error("docs/deploy.md does not show deploy/idp.service verbatim")
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed: deploy/idp.service was not verified by systemd (install the systemd package to check it)")
	}
	// verify insists that ExecStart exists: point it at the binary under test.
	path := filepath.Join(t.TempDir(), "idp.service")
	local := bytes.ReplaceAll(unit, []byte("/usr/local/bin/idp"), []byte(binary))
	if err := os.WriteFile(path, local, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(analyze, "verify", "--man=no", path)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Unknown keys and bad values are warnings with exit code 0: any output
	// counts as a failure.
	if err := cmd.Run(); err != nil || stderr.Len() > 0 || stdout.Len() > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	out, err := exec.Command(analyze, "security", "--offline=true", "--threshold=20", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security rates the unit above 2.0: %v\n%s", err, out)
	}
}
