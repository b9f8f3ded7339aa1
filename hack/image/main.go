// Command image builds the gitops-reverser container image without a Docker daemon (`make image`):
// a static binary per platform, CA certificates, passwd and group for the nonroot user, and
// nothing else (no shell), on an empty base, as an OCI image layout with one index for all
// platforms. With -push it also pushes the index to the registry of -image.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	var (
		goCmd     = fs.String("go", "go", "go command")
		src       = fs.String("src", "../..", "the main module's directory")
		ldflags   = fs.String("ldflags", "-s -w", "go build -ldflags (the Makefile's LDFLAGS)")
		version   = fs.String("version", "dev", "org.opencontainers.image.version label")
		revision  = fs.String("revision", "unknown", "org.opencontainers.image.revision label")
		created   = fs.Int64("created", 0, "creation time in Unix seconds (SOURCE_DATE_EPOCH), for every file and the config")
		platforms = fs.String("platforms", "linux/amd64,linux/arm64", "comma-separated os/arch")
		caFile    = fs.String("ca", "/etc/ssl/certs/ca-certificates.crt", "PEM bundle of CA certificates to ship")
		ref       = fs.String("image", "ghcr.io/gitops-reverser/gitops-reverser:dev", "image reference (repository:tag)")
		out       = fs.String("out", "bin/image", "OCI image layout directory to write")
		push      = fs.Bool("push", false, "also push the index to the registry as -image")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	tag, err := name.NewTag(*ref, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("-image: %w", err)
	}
	var plats []v1.Platform
	for _, s := range strings.Split(*platforms, ",") {
		p, err := v1.ParsePlatform(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		plats = append(plats, *p)
	}
	ca, err := os.ReadFile(*caFile)
	if err != nil {
		return fmt.Errorf("CA certificates: %w (Debian: apt-get install ca-certificates)", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	tmp, err := os.MkdirTemp("", "gitops-reverser-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var bins [][]byte
	for _, p := range plats {
		fmt.Fprintf(os.Stderr, "image: go build for %s\n", p)
		path, err := Compile(ctx, *goCmd, *src, *ldflags, p, tmp)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		bins = append(bins, b)
	}
	idx, err := Assemble(plats, bins, ca, Meta{Version: *version, Revision: *revision, Created: time.Unix(*created, 0)})
	if err != nil {
		return err
	}
	if err := WriteLayout(*out, idx, tag); err != nil {
		return err
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "image: %s@%s (%s) in %s\n", tag, d, *platforms, *out)
	if *push {
		if err := Push(ctx, idx, tag); err != nil {
			return fmt.Errorf("push %s: %w", tag, err)
		}
		fmt.Fprintf(os.Stderr, "image: pushed %s@%s\n", tag, d)
	}
	return nil
}
