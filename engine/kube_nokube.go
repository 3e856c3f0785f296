//go:build skiff_nokube

package engine

import (
	"context"
	"fmt"

	"github.com/skiff-project/skiff/errdefs"
)

// Built with skiff_nokube, skiff links no Kubernetes types (their package
// initialisation cost every start of skiff ~1.5 ms and 300 page faults):
// its kube commands run skiff-kube, the same skiff built with them, before
// they reach the engine. These verbs are never called there.

func errNoKube() error {
	return fmt.Errorf("this skiff is built without the Kubernetes types: run skiff-kube (make build writes it next to skiff): %w", errdefs.ErrNotImplemented)
}

// KubeGenerate is not built in: see skiff-kube.
func (e *Engine) KubeGenerate(context.Context, []string, KubeGenerateOptions) ([]byte, error) {
	return nil, errNoKube()
}

// KubePlay is not built in: see skiff-kube.
func (e *Engine) KubePlay(context.Context, []KubeFile, KubePlayOptions) ([]KubeMade, error) {
	return nil, errNoKube()
}

// KubeDown is not built in: see skiff-kube.
func (e *Engine) KubeDown(context.Context, string) ([]KubeMade, error) {
	return nil, errNoKube()
}
