package cmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/api"
	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

func serviceCommand() *cli.Command {
	return &cli.Command{
		Name:  "service",
		Usage: "Serve the Docker Engine API on a socket, for docker, compose and the SDKs",
		UsageText: "skiff system service [--time SECONDS] [URI]\n\n" +
			"URI is unix:///path/to/socket (default: $XDG_RUNTIME_DIR/skiff/skiff.sock, as root /run/skiff/skiff.sock)\n" +
			"or tcp://127.0.0.1:PORT.\n" +
			"Started by systemd socket activation, it serves the sockets it was given.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "time", Aliases: []string{"t"}, Value: 5, Usage: "seconds without a request before the service exits (0: never)"},
		},
		Action: systemService,
	}
}

func systemService(c *cli.Context) error {
	if err := exactArgs(c, 0, 1, "system service [--time SECONDS] [URI]"); err != nil {
		return err
	}
	idle := c.Int("time")
	if idle < 0 {
		return errdefs.Invalid("invalid --time %d: seconds, 0 for never", idle)
	}
	uri := c.Args().First()
	if uri != "" {
		if _, err := parseServiceURI(uri); err != nil {
			return err
		}
	}
	return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
		ls, cleanup, err := serviceListeners(uri)
		if err != nil {
			return err
		}
		defer cleanup()
		ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		for _, l := range ls {
			slog.Info("serving the Docker API", "on", l.Addr().Network()+"://"+l.Addr().String(), "idle", idle)
		}
		srv := api.New(e, api.Options{Idle: time.Duration(idle) * time.Second, Version: engine.Version, Log: slog.Default()})
		return srv.Serve(ctx, ls...)
	})
}

// parseServiceURI checks unix:///path and tcp://host:port.
func parseServiceURI(uri string) (*url.URL, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return nil, errdefs.Invalid("invalid URI %q: %v", uri, err)
	}
	switch u.Scheme {
	case "unix":
		if u.Path == "" || !filepath.IsAbs(u.Path) {
			return nil, errdefs.Invalid("invalid URI %q: want unix:///absolute/path", uri)
		}
	case "tcp":
		if _, _, err := net.SplitHostPort(u.Host); err != nil {
			return nil, errdefs.Invalid("invalid URI %q: want tcp://HOST:PORT", uri)
		}
	default:
		return nil, errdefs.Invalid("invalid URI %q: want unix:///path or tcp://HOST:PORT", uri)
	}
	return u, nil
}

// serviceListeners are systemd's sockets when it started the service,
// else the one the URI (or the default) names. cleanup removes a socket
// file the service made.
func serviceListeners(uri string) ([]net.Listener, func(), error) {
	if uri == "" {
		ls, err := activation.Listeners()
		if err != nil {
			return nil, nil, fmt.Errorf("reading the sockets systemd passed: %w", err)
		}
		var got []net.Listener
		for _, l := range ls {
			if l != nil {
				got = append(got, l)
			}
		}
		if len(got) > 0 {
			return got, func() {}, nil
		}
		uri = "unix://" + engine.DefaultSocket()
	}
	u, err := parseServiceURI(uri)
	if err != nil {
		return nil, nil, err
	}
	if u.Scheme == "tcp" {
		warn(fmt.Sprintf("serving the Docker API on %s: TCP has no authentication, so anyone who can reach it controls your containers", u.Host))
		l, err := net.Listen("tcp", u.Host)
		if err != nil {
			return nil, nil, fmt.Errorf("listening on %s: %w", uri, err)
		}
		return []net.Listener{l}, func() {}, nil
	}
	l, err := listenUnix(u.Path)
	if err != nil {
		return nil, nil, err
	}
	return []net.Listener{l}, func() { _ = os.Remove(u.Path) }, nil
}

// listenUnix makes a socket only its user can connect to (mode 0600 from
// the start), replacing a stale one but never one a live service holds.
func listenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	if _, err := os.Lstat(path); err == nil {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("%s is served already (another skiff system service?): stop that one or give another socket: %w", path, errdefs.ErrConflict)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing the stale socket %s: %w", path, err)
		}
	}
	old := syscall.Umask(0o177)
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("%s is in use: %w", path, errdefs.ErrConflict)
		}
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}
