package shm

// noCopy lets go vet's copylocks check flag a copied Region or view: a copy
// would share the mapping but not the closed flag, and could outlive Close.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}
