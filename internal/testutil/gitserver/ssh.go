package gitserver

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHServer is an sshd serving the repository through git-shell.
type SSHServer struct {
	// URL is ssh://<user>@127.0.0.1:<port>/<Dir>.
	URL string
	// Addr is 127.0.0.1:<port>.
	Addr string
	// ClientKey is an authorized private key (OpenSSH PEM, no passphrase).
	ClientKey []byte
	// KnownHosts holds the server's host key in known_hosts format.
	KnownHosts []byte

	authorizedKeys string
	command        string
}

// ServeSSH starts OpenSSH's sshd on a free loopback port, serving the
// repository through git-shell to a freshly generated client key. It skips the
// test when sshd is not installed. sshd stops when the test ends.
func (r *Remote) ServeSSH(t testing.TB) *SSHServer {
	t.Helper()
	return r.ServeSSHOnPort(t, freePort(t))
}

// ServeSSHOnPort is ServeSSH on a given loopback port, for URLs that cannot name a port
// (scp-like git@host:path means port 22).
func (r *Remote) ServeSSHOnPort(t testing.TB, port int) *SSHServer {
	t.Helper()
	sshd := findSSHD(t)
	dir := t.TempDir()
	hostKey, hostPub := GenerateSSHKey(t, "")
	writeFile(t, filepath.Join(dir, "host_ed25519"), hostKey, 0o600)

	s := &SSHServer{
		Addr:           net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		authorizedKeys: filepath.Join(dir, "authorized_keys"),
		command: fmt.Sprintf(`env HOME=%s GIT_CONFIG_NOSYSTEM=1 git-shell -c "$SSH_ORIGINAL_COMMAND"`,
			r.home),
	}
	s.URL = "ssh://" + currentUser(t) + "@" + s.Addr + r.Dir
	s.KnownHosts = s.KnownHostsFor(hostPub)
	clientKey, clientPub := GenerateSSHKey(t, "")
	s.ClientKey = clientKey
	s.Authorize(t, clientPub)

	config := filepath.Join(dir, "sshd_config")
	writeFile(t, config, []byte(sshdConfig(dir, port, s.authorizedKeys)), 0o600)
	startSSHD(t, sshd, config, s.Addr)
	return s
}

// Authorize adds a public key to the server's authorized keys.
func (s *SSHServer) Authorize(t testing.TB, pub ssh.PublicKey) {
	t.Helper()
	line := fmt.Sprintf("command=%q,no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty %s",
		s.command, ssh.MarshalAuthorizedKey(pub))
	f, err := os.OpenFile(s.authorizedKeys, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatalf("gitserver: %v", err)
	}
	defer f.Close()
	if _, err := f.WriteString(line); err != nil {
		t.Fatalf("gitserver: %v", err)
	}
}

// KnownHostsFor is a known_hosts line claiming the server's address has the
// given host key (useful to test a host key mismatch).
func (s *SSHServer) KnownHostsFor(key ssh.PublicKey) []byte {
	return []byte(knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, key) + "\n")
}

// GenerateSSHKey makes an ed25519 key pair: the private key in OpenSSH PEM
// form (encrypted when passphrase is not empty) and the public key.
func GenerateSSHKey(t testing.TB, passphrase string) ([]byte, ssh.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("gitserver: %v", err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte(passphrase))
	}
	if err != nil {
		t.Fatalf("gitserver: %v", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatalf("gitserver: %v", err)
	}
	return pem.EncodeToMemory(block), sshPub
}

func sshdConfig(dir string, port int, authorizedKeys string) string {
	return fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
AllowTcpForwarding no
X11Forwarding no
PrintMotd no
LogLevel ERROR
`, port, filepath.Join(dir, "host_ed25519"), filepath.Join(dir, "sshd.pid"), authorizedKeys)
}

func findSSHD(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("sshd"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/sshd"); err == nil {
		return "/usr/sbin/sshd"
	}
	if os.Getenv("CI") != "" {
		t.Fatal("gitserver: sshd not installed (Debian package openssh-server; .ci/run installs it)")
	}
	t.Skip("gitserver: sshd not installed (Debian package openssh-server)")
	return ""
}

// startSSHD runs sshd in the foreground until the test ends and waits until it
// accepts connections.
func startSSHD(t testing.TB, sshd, config, addr string) {
	t.Helper()
	// sshd refuses to start without its privilege separation directory, which
	// only the service scripts create.
	_ = os.MkdirAll("/run/sshd", 0o755)
	var stderr bytes.Buffer
	cmd := exec.Command(sshd, "-D", "-e", "-f", config)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("gitserver: start sshd: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			t.Fatalf("gitserver: sshd exited: %s", stderr.String())
		default:
		}
		if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			conn.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("gitserver: sshd did not listen on %s: %s", addr, stderr.String())
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("gitserver: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func currentUser(t testing.TB) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatalf("gitserver: current user: %v", err)
	}
	return u.Username
}

func writeFile(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatalf("gitserver: %v", err)
	}
}
