package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RedisCluster is a Redis Cluster of masters (no replicas) on loopback,
// owned by one test.
type RedisCluster struct {
	Nodes []*Redis
}

// Addrs are the nodes' host:port addresses (any of them bootstraps a
// cluster client).
func (c *RedisCluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = fmt.Sprintf("127.0.0.1:%d", n.Port)
	}
	return out
}

// StartRedisCluster starts masters redis-servers with cluster mode on,
// joins them with `redis-cli --cluster create` (the 16384 slots spread
// evenly) and waits until every node reports cluster_state:ok.
func StartRedisCluster(t testing.TB, masters int) *RedisCluster {
	t.Helper()
	for _, prog := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(prog); err != nil {
			missing(t, prog)
		}
	}
	c := &RedisCluster{}
	for range masters {
		dir := t.TempDir()
		r := &Redis{t: t, Port: FreePort(t), dir: dir, args: []string{
			"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			"--cluster-node-timeout", "2000",
		}}
		r.Start()
		t.Cleanup(r.Stop)
		c.Nodes = append(c.Nodes, r)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, n := range c.Nodes {
		waitFor(t, 15*time.Second, fmt.Sprintf("cluster_state:ok on node %d", n.Port), func() bool {
			out, _ := cli(n.Port, "cluster", "info")
			return strings.Contains(out, "cluster_state:ok")
		})
	}
	return c
}

// RedisSentinel is a primary, one replica and three sentinels (quorum 2)
// watching them under the name Master.
type RedisSentinel struct {
	Master    string
	Primary   *Redis
	Replica   *Redis
	Sentinels []*Redis
}

// SentinelAddrs are the sentinels' host:port addresses.
func (s *RedisSentinel) SentinelAddrs() []string {
	out := make([]string, len(s.Sentinels))
	for i, n := range s.Sentinels {
		out[i] = fmt.Sprintf("127.0.0.1:%d", n.Port)
	}
	return out
}

// StartRedisSentinel starts the set and waits until every sentinel knows
// the primary and its replica. Failover is quick: a primary that doesn't
// answer for 1 s is down.
func StartRedisSentinel(t testing.TB) *RedisSentinel {
	t.Helper()
	for _, prog := range []string{"redis-server", "redis-sentinel", "redis-cli"} {
		if _, err := exec.LookPath(prog); err != nil {
			missing(t, prog)
		}
	}
	s := &RedisSentinel{Master: "idp"}
	s.Primary = &Redis{t: t, Port: FreePort(t), dir: t.TempDir()}
	s.Primary.Start()
	t.Cleanup(s.Primary.Stop)
	s.Replica = &Redis{t: t, Port: FreePort(t), dir: t.TempDir(),
		args:  []string{"--replicaof", "127.0.0.1", strconv.Itoa(s.Primary.Port)},
		ready: "MASTER <-> REPLICA sync: Finished with success"}
	s.Replica.Start()
	t.Cleanup(s.Replica.Stop)
	for range 3 {
		dir := t.TempDir()
		conf := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2\n"+
			"sentinel down-after-milliseconds %[1]s 1000\n"+
			"sentinel failover-timeout %[1]s 5000\n"+
			"sentinel parallel-syncs %[1]s 1\n", s.Master, s.Primary.Port)
		if err := os.WriteFile(filepath.Join(dir, "sentinel.conf"), []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		n := &Redis{t: t, Port: FreePort(t), dir: dir, prog: "redis-sentinel", ready: "+monitor master " + s.Master}
		n.Start()
		t.Cleanup(n.Stop)
		s.Sentinels = append(s.Sentinels, n)
	}
	for _, n := range s.Sentinels {
		waitFor(t, 15*time.Second, fmt.Sprintf("sentinel %d to see the replica and its peers", n.Port), func() bool {
			out, _ := cli(n.Port, "sentinel", "master", s.Master)
			return strings.Contains(out, "num-slaves\n1\n") && strings.Contains(out, "num-other-sentinels\n2\n")
		})
	}
	return s
}

// PrimaryPort asks a sentinel which port the primary has now.
func (s *RedisSentinel) PrimaryPort() (int, error) {
	out, err := cli(s.Sentinels[0].Port, "sentinel", "get-master-addr-by-name", s.Master)
	if err != nil {
		return 0, err
	}
	f := strings.Fields(out)
	if len(f) != 2 {
		return 0, fmt.Errorf("get-master-addr-by-name: %q", out)
	}
	return strconv.Atoi(f[1])
}

func cli(port int, args ...string) (string, error) {
	out, err := exec.Command("redis-cli", append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(port)}, args...)...).CombinedOutput()
	return string(out), err
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
