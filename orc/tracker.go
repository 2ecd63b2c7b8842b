package orc

import (
	"errors"
	"fmt"
	"slices"
)

// ResourceTracker owns definitions in a JITDylib and the resources that
// back them (memory, registrations). Removing it unloads them all.
type ResourceTracker struct {
	jd *JITDylib
	// Guarded by the session lock.
	names   []Name // names defined under this tracker (some may have moved on)
	defunct bool
}

// ResourceManager owns resources that resource trackers track, such as the
// memory of linked objects. The session tells it when trackers go.
type ResourceManager interface {
	// HandleRemoveResources releases everything held for rt.
	HandleRemoveResources(jd *JITDylib, rt *ResourceTracker) error
	// HandleTransferResources makes dst own what src owned.
	HandleTransferResources(jd *JITDylib, dst, src *ResourceTracker)
}

// String says whose tracker it is, e.g. "resource tracker of main". (It
// takes no lock: code holding the session lock may print trackers.)
func (rt *ResourceTracker) String() string { return "resource tracker of " + rt.jd.String() }

// JITDylib returns the tracker's JITDylib.
func (rt *ResourceTracker) JITDylib() *JITDylib { return rt.jd }

// Defunct reports whether the tracker has been removed.
func (rt *ResourceTracker) Defunct() bool {
	rt.jd.es.mu.Lock()
	defer rt.jd.es.mu.Unlock()
	return rt.defunct
}

// Remove removes every definition the tracker owns and releases their
// resources. Lookups waiting for removed symbols fail; later lookups do not
// find them (or find a new definition). Materializations still running for
// the tracker fail when they report back. Removing a tracker twice is a no-op.
func (rt *ResourceTracker) Remove() error {
	jd := rt.jd
	es := jd.es
	var managers []ResourceManager
	removed := false
	es.locked(func(b *batch) {
		if rt.defunct {
			return
		}
		rt.defunct, removed = true, true
		cause := fmt.Errorf("removed from JITDylib %s: %w", jd.name, ErrTrackerDefunct)
		for _, name := range rt.names {
			e := jd.symbols[name]
			if e == nil || e.rt != rt {
				continue
			}
			delete(jd.symbols, name)
			if u := e.pending(); u != nil {
				delete(u.symbols, name)
				e.m.unit = nil
			}
			es.failSymbol(jd, e, cause, b)
		}
		rt.names = nil
		jd.absTables = slices.DeleteFunc(jd.absTables, func(t *absTable) bool { return t.rt == rt })
		if i := slices.Index(jd.trackers, rt); i >= 0 {
			jd.trackers = slices.Delete(jd.trackers, i, i+1)
		}
		managers = slices.Clone(es.managers)
	})
	if !removed {
		return nil
	}
	var errs []error
	for _, rm := range slices.Backward(managers) {
		if err := rm.HandleRemoveResources(jd, rt); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// TransferTo makes dst own everything rt owns (dst must belong to the same
// JITDylib); rt is left empty and usable.
func (rt *ResourceTracker) TransferTo(dst *ResourceTracker) error {
	if dst.jd != rt.jd {
		return fmt.Errorf("cannot transfer resources from JITDylib %s to %s", rt.jd.name, dst.jd.name)
	}
	if dst == rt {
		return nil
	}
	jd := rt.jd
	es := jd.es
	var managers []ResourceManager
	var err error
	es.locked(func(b *batch) {
		if rt.defunct || dst.defunct {
			err = ErrTrackerDefunct
			return
		}
		for _, name := range rt.names {
			if e := jd.symbols[name]; e != nil && e.rt == rt {
				e.rt = dst
				if u := e.pending(); u != nil {
					u.rt = dst
				}
				dst.names = append(dst.names, name)
			}
		}
		rt.names = nil
		for _, t := range jd.absTables {
			if t.rt == rt {
				t.rt = dst
			}
		}
		for mr := range jd.mrs {
			if mr.rt == rt {
				mr.rt = dst
			}
		}
		managers = slices.Clone(es.managers)
	})
	if err != nil {
		return err
	}
	for _, rm := range slices.Backward(managers) {
		rm.HandleTransferResources(jd, dst, rt)
	}
	return nil
}
