// compose-check loads a compose file the way Docker Compose v2 does (compose-go, its loader):
// the compose specification's schema, interpolation from an env file (a `${NAME:?…}` variable
// that is not set fails), normalization and consistency checks (networks, volumes, secrets and
// services that depend_on are declared). It prints the resolved project as JSON for the test to
// inspect. Used by test/unit/docker-compose.test.ts where `docker compose` itself cannot run.
//
//	go run . COMPOSE_FILE ENV_FILE [PROFILE...]
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: compose-check COMPOSE_FILE ENV_FILE [PROFILE...]")
		os.Exit(2)
	}
	file, envFile := os.Args[1], os.Args[2]
	opts, err := cli.NewProjectOptions(
		[]string{file},
		cli.WithWorkingDirectory(filepath.Dir(file)),
		cli.WithEnvFiles(envFile),
		cli.WithDotEnv,
		cli.WithProfiles(os.Args[3:]),
		cli.WithName("hackstream"),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(project); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
