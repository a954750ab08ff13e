// Placeholder: replaced by the RaftSimulation implementation.
