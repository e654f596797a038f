// The peer control plane of `npm run bench:xds -- --peer go-control-plane`:
// go-control-plane's SnapshotCache and xDS server (SotW and Delta ADS) serving
// resources that the bench coordinator translated with mediamesh's own code.
//
// The coordinator writes one file per proxy view into -dir (by rename, so a
// reader never sees half a file). Each file holds the view's resources,
// serialized as Envoy protobufs, with one content version per type. This
// program watches the directory (inotify, through fsnotify), and on every new
// file decodes it and sets that view's snapshot. A proxy's view is the
// namespace its node metadata states (key mediamesh.io/namespace, the key
// mediamesh reads), so proxies of one view share one snapshot, as they share
// one translation in mediamesh.
//
// It prints one line to stdout once it serves: {"ready":true,"port":N}.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"github.com/fsnotify/fsnotify"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/anypb"

	// Registers the resource types the view files carry, so their Anys decode.
	_ "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

const (
	namespaceKey = "mediamesh.io/namespace"
	// The view of a proxy that states no namespace (a gateway). Namespaces are
	// DNS labels, so this cannot clash with one.
	gatewayView = "_"
	viewPrefix  = "view-"
	viewSuffix  = ".json"
)

// viewFile is what the coordinator writes (bench/lib/peer-view-files.ts).
type viewFile struct {
	View  string `json:"view"`
	Types []struct {
		TypeURL   string   `json:"typeUrl"`
		Version   string   `json:"version"`
		Resources [][]byte `json:"resources"`
	} `json:"types"`
}

// viewHash maps a node to the view its metadata states.
type viewHash struct{}

func (viewHash) ID(node *core.Node) string {
	if ns := node.GetMetadata().GetFields()[namespaceKey].GetStringValue(); ns != "" {
		return ns
	}
	return gatewayView
}

// quietLogger keeps go-control-plane's debug and info lines out of the
// measurement; warnings and errors go to stderr.
type quietLogger struct{}

func (quietLogger) Debugf(string, ...interface{}) {}
func (quietLogger) Infof(string, ...interface{})  {}
func (quietLogger) Warnf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "warn: "+format+"\n", args...)
}
func (quietLogger) Errorf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "error: "+format+"\n", args...)
}

func isViewFile(name string) bool {
	base := filepath.Base(name)
	return strings.HasPrefix(base, viewPrefix) && strings.HasSuffix(base, viewSuffix)
}

// loadView decodes one view file into a consistent snapshot.
func loadView(path string) (string, *cachev3.Snapshot, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	var file viewFile
	if err := json.Unmarshal(raw, &file); err != nil {
		return "", nil, fmt.Errorf("%s: %w", path, err)
	}
	if file.View == "" {
		return "", nil, fmt.Errorf("%s: no view name", path)
	}
	snapshot := &cachev3.Snapshot{}
	for _, t := range file.Types {
		index := cachev3.GetResponseType(t.TypeURL)
		if index == types.UnknownType {
			return "", nil, fmt.Errorf("%s: unknown resource type %q", path, t.TypeURL)
		}
		items := make([]types.Resource, 0, len(t.Resources))
		for i, bytes := range t.Resources {
			message, err := (&anypb.Any{TypeUrl: t.TypeURL, Value: bytes}).UnmarshalNew()
			if err != nil {
				return "", nil, fmt.Errorf("%s: %s resource %d: %w", path, t.TypeURL, i, err)
			}
			items = append(items, message)
		}
		// One version per type, as mediamesh keeps: a change to endpoints
		// alone does not resend clusters and listeners.
		snapshot.Resources[index] = cachev3.NewResources(t.Version, items)
	}
	if err := snapshot.Consistent(); err != nil {
		return "", nil, fmt.Errorf("%s: %w", path, err)
	}
	return file.View, snapshot, nil
}

func setView(ctx context.Context, cache cachev3.SnapshotCache, path string) error {
	view, snapshot, err := loadView(path)
	if err != nil {
		return err
	}
	return cache.SetSnapshot(ctx, view, snapshot)
}

func run() error {
	dir := flag.String("dir", "", "directory of view-<name>.json files to serve (required)")
	host := flag.String("host", "127.0.0.1", "address to listen on")
	port := flag.Int("port", 0, "port to listen on (0: any free port)")
	flag.Parse()
	if *dir == "" {
		return errors.New("-dir is required")
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()

	cache := cachev3.NewSnapshotCache(true, viewHash{}, quietLogger{})
	// Watch before the first read, so a file written in between is not missed.
	watcher, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("cannot watch %s: %w", *dir, err)
	}
	defer watcher.Close()
	if err := watcher.Add(*dir); err != nil {
		return fmt.Errorf("cannot watch %s: %w", *dir, err)
	}
	entries, err := os.ReadDir(*dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if isViewFile(e.Name()) {
			if err := setView(ctx, cache, filepath.Join(*dir, e.Name())); err != nil {
				return err
			}
		}
	}

	listener, err := net.Listen("tcp", net.JoinHostPort(*host, fmt.Sprint(*port)))
	if err != nil {
		return fmt.Errorf("cannot listen on %s:%d: %w", *host, *port, err)
	}
	grpcServer := grpc.NewServer(grpc.MaxConcurrentStreams(1 << 20))
	xds := serverv3.NewServer(ctx, cache, serverv3.CallbackFuncs{})
	discovery.RegisterAggregatedDiscoveryServiceServer(grpcServer, xds)
	served := make(chan error, 1)
	go func() { served <- grpcServer.Serve(listener) }()

	ready, _ := json.Marshal(map[string]interface{}{"ready": true, "port": listener.Addr().(*net.TCPAddr).Port})
	fmt.Println(string(ready))

	for {
		select {
		case <-ctx.Done():
			grpcServer.Stop()
			return nil
		case err := <-served:
			return fmt.Errorf("gRPC server stopped: %w", err)
		case err := <-watcher.Errors:
			return fmt.Errorf("watching %s: %w", *dir, err)
		case event := <-watcher.Events:
			// A rename into the directory is a Create of the target name.
			if !isViewFile(event.Name) || !event.Has(fsnotify.Create|fsnotify.Write) {
				continue
			}
			if err := setView(ctx, cache, event.Name); err != nil {
				// The bench waits for a convergence that will not come; say why.
				fmt.Fprintf(os.Stderr, "error: %v\n", err)
			}
		}
	}
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "go-control-plane peer: %v\n", err)
		os.Exit(1)
	}
}
