// Command baseline is the yardstick of `make bench`: a plain paged LIST with client-go, each
// object written as YAML with sigs.k8s.io/yaml, committed and pushed with the git CLI. With
// -informer it is instead a plain client-go dynamic informer of ConfigMaps that caches whole
// objects, as most controllers do: it prints "synced" once its cache is full and runs until
// killed.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/pager"
	"sigs.k8s.io/yaml"
)

func main() {
	fs := flag.NewFlagSet("baseline", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig")
	remote := fs.String("remote", "", "bare repository to push to")
	work := fs.String("work", "", "working tree to write")
	informer := fs.Bool("informer", false, "cache every ConfigMap in a dynamic informer and run until killed")
	selector := fs.String("l", "", "label selector of the objects listed")
	_ = fs.Parse(os.Args[1:])
	var err error
	if *informer {
		err = cacheAll(*kubeconfig)
	} else {
		err = run(*kubeconfig, *remote, *work, *selector)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}

func run(kubeconfig, remote, work, selector string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 50, 100
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for _, gvr := range []schema.GroupVersionResource{
		{Version: "v1", Resource: "configmaps"},
		{Group: "shop.example.com", Version: "v1", Resource: "icecreamorders"},
	} {
		p := pager.New(pager.SimplePageFunc(func(o metav1.ListOptions) (runtime.Object, error) {
			return dyn.Resource(gvr).List(context.Background(), o)
		}))
		p.PageSize = 500
		err := p.EachListItem(context.Background(), metav1.ListOptions{LabelSelector: selector}, func(o runtime.Object) error {
			u := o.(*unstructured.Unstructured)
			b, err := yaml.Marshal(u.Object)
			if err != nil {
				return err
			}
			dir := filepath.Join(work, u.GetNamespace(), gvr.Resource)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, u.GetName()+".yaml"), b, 0o644)
		})
		if apierrors.IsNotFound(err) {
			continue // a kind the cluster does not serve (the CRD is not installed)
		}
		if err != nil {
			return err
		}
	}
	for _, args := range [][]string{
		{"init", "-q", "--initial-branch=main"},
		{"add", "-A"},
		{"-c", "user.name=baseline", "-c", "user.email=baseline@example.com", "commit", "-q", "-m", "snapshot"},
		{"push", "-q", remote, "main"},
	} {
		cmd := exec.Command("git", append([]string{"-C", work}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// cacheAll runs a dynamic informer of every ConfigMap, as a controller without any trimming
// would, until the process is killed.
func cacheAll(kubeconfig string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	f := dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)
	inf := f.ForResource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Informer()
	stop := make(chan struct{})
	f.Start(stop)
	if !cache.WaitForCacheSync(stop, inf.HasSynced) {
		return fmt.Errorf("informer did not sync")
	}
	fmt.Println("synced", len(inf.GetStore().ListKeys()))
	select {}
}
