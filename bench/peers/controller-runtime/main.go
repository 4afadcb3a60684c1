// The controller-runtime peer of kubefx's echo-server operator (examples/echo-server), for bench/peers.ts:
// the cmd/main.go of a kubebuilder project, minus what the benchmark turns off (metrics server, health probes,
// leader election), plus the benchmark's probe (probe.go), which speaks bench/apiserver/protocol.ts on
// stdin/stdout.
//
//	bin/echo-operator --kubeconfig K [--max-concurrent-reconciles 4] [--sync-period 30s]
package main

import (
	"context"
	"flag"
	"os"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

func main() {
	var workers int
	var syncPeriod time.Duration
	flag.IntVar(&workers, "max-concurrent-reconciles", 4, "reconciles run at once")
	flag.DurationVar(&syncPeriod, "sync-period", 30*time.Second, "how often every cached object is reconciled again")
	flag.Parse() // --kubeconfig is controller-runtime's own flag (ctrl.GetConfigOrDie)
	ctrl.SetLogger(zap.New(zap.Level(zapcore.ErrorLevel)))

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(AddToScheme(scheme))

	cfg := ctrl.GetConfigOrDie()
	probe := newProbe()
	cfg.Wrap(probe.countRequests)

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		LeaderElection:         false,
		Cache:                  cache.Options{SyncPeriod: &syncPeriod},
	})
	if err != nil {
		fail("unable to create the manager", err)
	}
	r := &EchoServerReconciler{Client: mgr.GetClient(), Scheme: mgr.GetScheme()}
	if err := r.SetupWithManager(mgr, workers, probe.countReconciles); err != nil {
		fail("unable to create the controller", err)
	}

	// Not ctrl.SetupSignalHandler(): the benchmark says when to stop, on stdin.
	ctx, cancel := context.WithCancel(context.Background())
	probe.started()
	stopped := make(chan error, 1)
	go func() { stopped <- mgr.Start(ctx) }()
	go probe.announceSynced(ctx, mgr.GetCache(), stopped)
	probe.serve(os.Stdin)
	cancel()
	if err := <-stopped; err != nil {
		fail("manager", err)
	}
	probe.final()
}

func fail(what string, err error) {
	ctrl.Log.Error(err, what)
	os.Exit(1)
}
