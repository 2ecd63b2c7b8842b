package lazy

// CallThroughs returns how many call-throughs m tracks.
func (m *Manager) CallThroughs() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.calls)
}
