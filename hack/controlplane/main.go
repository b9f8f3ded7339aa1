// Command controlplane starts a local living cluster (from bin/, built by `make testbin`):
// kube-apiserver and etcd with the project's CRDs, kube-controller-manager, kube-scheduler and
// kwok with two fake Nodes, so Pods are scheduled and run. It writes an admin kubeconfig and
// runs until interrupted. `make demo` uses it when no cluster is configured.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

func main() {
	// An own flag set: controller-runtime registers --kubeconfig on the global one.
	fs := flag.NewFlagSet("controlplane", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", ".demo/kubeconfig", "where to write the admin kubeconfig")
	_ = fs.Parse(os.Args[1:])
	if err := run(*kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, "controlplane:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env, err := kubetest.StartLiving(2)
	if err != nil {
		return err
	}
	defer env.Stop()
	if err := env.WriteKubeconfig(path, "default"); err != nil {
		return err
	}
	fmt.Printf("control plane up at %s; kubeconfig %s\n", env.Config.Host, path)
	<-ctx.Done()
	return nil
}
