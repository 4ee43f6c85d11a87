"""Operations on a whole repository: fsck (check), gc (collect, retention), du (usage)."""
