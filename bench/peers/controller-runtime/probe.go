package main

// The benchmark's side of the peer (not part of an operator): counts requests by verb at the HTTP transport and
// reconciles around the reconciler, and speaks bench/apiserver/protocol.ts: lines `<TAG> <json>` on stdout
// (STARTED, SYNCED, SNAPSHOT, FINAL), commands on stdin (`snapshot`, `exit`; the end of stdin is an exit).

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// verbs are kubefx's request vocabulary (Cluster.Verb).
var verbs = []string{"get", "list", "watch", "create", "update", "patch", "apply", "delete", "updateStatus", "patchStatus"}

type probe struct {
	mu         sync.Mutex
	counts     map[string]int
	out        sync.Mutex
	reconciles atomic.Int64
	failures   atomic.Int64
	active     atomic.Int64
	lastActive atomic.Int64 // epoch ns of the last reconcile's start or end
	cpuStart   float64
}

func newProbe() *probe {
	p := &probe{counts: map[string]int{}}
	for _, v := range verbs {
		p.counts[v] = 0
	}
	return p
}

func epochMillis(t time.Time) float64 { return float64(t.UnixNano()) / 1e6 }

func cpuMillis() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6
}

// statusMiB reads a "VmRSS:"-style line of /proc/self/status, in MiB.
func statusMiB(field string) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, field+":") {
			var kib float64
			for _, f := range strings.Fields(line[len(field)+1:]) {
				var n float64
				if v, err := strconv.ParseFloat(f, 64); err == nil {
					n = v
					kib = n
					break
				}
			}
			return kib / 1024
		}
	}
	return 0
}

func (p *probe) emit(tag string, value any) {
	data, _ := json.Marshal(value)
	p.out.Lock()
	defer p.out.Unlock()
	_, _ = os.Stdout.Write(append([]byte(tag+" "), append(data, '\n')...))
}

// verbOf names a request as the API server's RBAC does (kubefx's Cluster.Verb).
func verbOf(req *http.Request) string {
	path := req.URL.Path
	status := strings.HasSuffix(path, "/status")
	switch req.Method {
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		if status {
			return "updateStatus"
		}
		return "update"
	case http.MethodPatch:
		if strings.HasPrefix(req.Header.Get("Content-Type"), "application/apply-patch") {
			return "apply"
		}
		if status {
			return "patchStatus"
		}
		return "patch"
	case http.MethodDelete:
		return "delete"
	}
	if req.URL.Query().Get("watch") == "true" || req.URL.Query().Get("watch") == "1" {
		return "watch"
	}
	// /api/v1/... or /apis/<group>/<version>/..., then namespaces/<ns>/, then <resource>[/<name>[/<sub>]].
	segments := strings.Split(strings.Trim(path, "/"), "/")
	if len(segments) > 0 && segments[0] == "api" {
		segments = segments[min(2, len(segments)):]
	} else {
		segments = segments[min(3, len(segments)):]
	}
	if len(segments) >= 3 && segments[0] == "namespaces" {
		segments = segments[2:]
	}
	if len(segments) <= 1 {
		return "list"
	}
	return "get"
}

type countingTransport struct {
	p     *probe
	inner http.RoundTripper
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	verb := verbOf(req)
	t.p.mu.Lock()
	t.p.counts[verb]++
	t.p.mu.Unlock()
	return t.inner.RoundTrip(req)
}

func (p *probe) countRequests(rt http.RoundTripper) http.RoundTripper {
	return countingTransport{p: p, inner: rt}
}

type countingReconciler struct {
	p     *probe
	inner reconcile.Reconciler
}

func (c countingReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	c.p.active.Add(1)
	c.p.lastActive.Store(time.Now().UnixNano())
	c.p.reconciles.Add(1)
	res, err := c.inner.Reconcile(ctx, req)
	if err != nil {
		c.p.failures.Add(1)
	}
	c.p.lastActive.Store(time.Now().UnixNano())
	c.p.active.Add(-1)
	return res, err
}

func (p *probe) countReconciles(r reconcile.Reconciler) reconcile.Reconciler {
	return countingReconciler{p: p, inner: r}
}

func (p *probe) started() {
	p.cpuStart = cpuMillis()
	p.lastActive.Store(time.Now().UnixNano())
	p.emit("STARTED", map[string]any{"at": epochMillis(time.Now()), "rssMiB": statusMiB("VmRSS")})
}

// announceSynced prints SYNCED once the informers of the three types have listed (the ones the controller uses:
// the cache has one informer per type).
func (p *probe) announceSynced(ctx context.Context, c cache.Cache, stopped <-chan error) {
	for _, obj := range []client.Object{&EchoServer{}, &appsv1.Deployment{}, &corev1.Service{}} {
		if _, err := c.GetInformer(ctx, obj); err != nil {
			return
		}
	}
	if c.WaitForCacheSync(ctx) {
		p.emit("SYNCED", map[string]any{"at": epochMillis(time.Now())})
	}
}

func (p *probe) figures() map[string]any {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	p.mu.Lock()
	counts := make(map[string]int, len(p.counts))
	for k, v := range p.counts {
		counts[k] = v
	}
	p.mu.Unlock()
	return map[string]any{
		"at":         epochMillis(time.Now()),
		"cpuMs":      cpuMillis() - p.cpuStart,
		"maxRssMiB":  statusMiB("VmHWM"),
		"rssMiB":     statusMiB("VmRSS"),
		"heapMiB":    float64(m.HeapAlloc) / (1 << 20),
		"counts":     counts,
		"reconciles": p.reconciles.Load(),
		"failures":   p.failures.Load(),
		"warnings":   0,
	}
}

// awaitQuiet waits until no reconcile has run for 200 ms in a row; returns when that quiet began (epoch ms).
func (p *probe) awaitQuiet() float64 {
	for {
		last := p.lastActive.Load()
		if p.active.Load() == 0 && time.Since(time.Unix(0, last)) >= 200*time.Millisecond {
			return float64(last) / 1e6
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (p *probe) serve(in io.Reader) {
	lines := bufio.NewScanner(in)
	for lines.Scan() {
		switch strings.TrimSpace(lines.Text()) {
		case "exit":
			return
		case "snapshot":
			quiet := p.awaitQuiet()
			f := p.figures()
			f["quietSince"] = quiet
			p.emit("SNAPSHOT", f)
		}
	}
}

func (p *probe) final() { p.emit("FINAL", p.figures()) }
