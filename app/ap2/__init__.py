"""AP2 v0.2 mandates: Delegate SD-JWT chains, their constraints, ledger rules and receipts."""
