// Command pause is the sandbox ("pause") container of the test node's pods: it holds the pod's
// namespaces, reaps what ends in them, and exits at SIGTERM or SIGINT. The test node's container
// runtime runs it as its sandbox image (test/support/kube-node.ts), built here because no
// container registry is reachable to pull one.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range signals {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
