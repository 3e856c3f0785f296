package cmd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

func pushCommand() *cli.Command {
	return &cli.Command{
		Name:      "push",
		Usage:     "Upload an image to a registry",
		ArgsUsage: "NAME[:TAG] [DESTINATION]",
		UsageText: "skiff push [OPTIONS] NAME[:TAG] [DESTINATION]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing but errors"},
			&cli.BoolFlag{Name: "all-tags", Aliases: []string{"a"}, Usage: "push every local tag of the repository"},
			&cli.StringFlag{Name: "platform", Usage: "push only if the image is for `os/arch[/variant]` (skiff keeps one platform's image per name)"},
			&cli.BoolFlag{Name: "tls-verify", Value: true, Usage: "require HTTPS with a verified certificate (loopback registries always speak plain HTTP)"},
			contentTrustFlag(),
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, 2, "push [OPTIONS] NAME[:TAG] [DESTINATION]"); err != nil {
				return err
			}
			if err := checkContentTrust(c); err != nil {
				return err
			}
			ref := c.Args().Get(0)
			o := engine.PushOptions{TLSVerify: tlsVerify(c), AllTags: c.Bool("all-tags"), Platform: c.String("platform")}
			if !c.Bool("quiet") {
				if !o.AllTags && engine.NameOnly(ref) {
					fmt.Fprintln(c.App.Writer, "Using default tag: latest")
				}
				o.Progress, o.Bytes = pushProgress(c.App.Writer, term.IsTerminal(int(os.Stdout.Fd())))
			}
			return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
				_, err := e.ImagePush(ctx, ref, c.Args().Get(1), o)
				return err
			})
		},
	}
}

// pushProgress prints Docker's push lines; on a terminal a redrawn line
// below them counts the bytes sent.
func pushProgress(w io.Writer, tty bool) (func(string), func(done, total int64)) {
	var mu sync.Mutex
	drawn := false
	say := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		if drawn {
			fmt.Fprint(w, "\r\x1b[2K")
			drawn = false
		}
		fmt.Fprintln(w, s)
	}
	if !tty {
		return say, nil
	}
	return say, func(done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "\r\x1b[2KPushing %s / %s", humanBytes(done), humanBytes(total))
		drawn = true
	}
}

func loginCommand() *cli.Command {
	return &cli.Command{
		Name:      "login",
		Usage:     "Log in to a registry",
		ArgsUsage: "[SERVER]",
		UsageText: "skiff login [OPTIONS] [SERVER]\n\nCredentials go to ~/.docker/config.json (mode 0600), or to its credential helper.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "username", Aliases: []string{"u"}, Usage: "username"},
			&cli.StringFlag{Name: "password", Aliases: []string{"p"}, Usage: "password (prefer --password-stdin)"},
			&cli.BoolFlag{Name: "password-stdin", Usage: "read the password from stdin"},
			&cli.BoolFlag{Name: "tls-verify", Value: true, Usage: "require HTTPS with a verified certificate"},
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 0, 1, "login [OPTIONS] [SERVER]"); err != nil {
				return err
			}
			user, pass := c.String("username"), c.String("password")
			if c.Bool("password-stdin") {
				if pass != "" {
					return errdefs.Invalid("--password and --password-stdin are mutually exclusive")
				}
				if user == "" {
					return errdefs.Invalid("--password-stdin needs --username")
				}
				data, err := io.ReadAll(bufio.NewReader(os.Stdin))
				if err != nil {
					return err
				}
				pass = strings.TrimRight(string(data), "\r\n")
			} else if pass != "" {
				fmt.Fprintln(os.Stderr, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
			}
			// Credentials are the user's own file: no namespace or store needed.
			if err := engine.Login(c.Context, c.Args().First(), user, pass, tlsVerify(c)); err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, "Login Succeeded")
			return nil
		},
	}
}

func logoutCommand() *cli.Command {
	return &cli.Command{
		Name:      "logout",
		Usage:     "Log out from a registry",
		ArgsUsage: "[SERVER]",
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 0, 1, "logout [SERVER]"); err != nil {
				return err
			}
			host := c.Args().First()
			if err := engine.Logout(host); err != nil {
				return err
			}
			if host == "" {
				host = "docker.io"
			}
			fmt.Fprintf(c.App.Writer, "Removing login credentials for %s\n", host)
			return nil
		},
	}
}
