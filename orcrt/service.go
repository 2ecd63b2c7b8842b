package orcrt

import (
	"fmt"

	"github.com/gorc-jit/gorc/orc/shared/sps"
)

// service is one published instance of an executor service (a memory or
// dylib manager): an address that names it, and which every call of its
// wrapper functions must name.
type service struct {
	what     string // for errors: "memory manager"
	instance uint64
}

// newService makes the instance address, published as instanceSymbol.
func newService(s *Session, what, instanceSymbol string) (service, error) {
	inst, err := s.NewAddress(instanceSymbol)
	return service{what, inst}, err
}

// check is what each wrapper function does first: the call must name this
// instance.
func (sv service) check(inst sps.Addr) error {
	if uint64(inst) != sv.instance {
		return fmt.Errorf("%s: unknown instance %#x", sv.what, uint64(inst))
	}
	return nil
}

// publish registers the service's wrapper functions in s and adds rm to
// s's resource managers.
func (sv service) publish(s *Session, rm ResourceManager, wrappers map[string]WrapperFunction) error {
	for name, f := range wrappers {
		if _, err := s.RegisterWrapper(name, f); err != nil {
			return err
		}
	}
	s.AddResourceManager(rm)
	return nil
}
