package engine

import (
	"context"

	"github.com/skiff-project/skiff/services"
)

// ServiceNames are the services' names, for shell completion: unlike
// ServiceList it starts no keeper and reads no task.
func (e *Engine) ServiceNames(ctx context.Context) ([]string, error) {
	all, err := services.List()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range all {
		out = append(out, s.Spec.Name)
	}
	return out, nil
}
