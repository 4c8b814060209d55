package spawn

// noCopy makes go vet's copylocks check flag copies of the types that hold
// it: a copied Process would share its child with the original.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}
