package pool

// noCopy makes go vet's copylocks check flag copies of the types that hold
// it: a copied Pool or Future would share its state with the original.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}
