"""How much of the machine a pod has, and the plan of workers, threads and memory from it."""
