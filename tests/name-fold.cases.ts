// Users' names in several scripts, as a database written before users.name_fold holds them, and what
// searching finds once it is upgraded: one table for both engines (migrations.test.ts, pg.schema.test.ts).
export const NAMES_BEFORE_FOLD: [account: string, name: string][] = [
  ["p1", "Émile Zola"],
  ["p2", "Øyvind Berg"],
  ["p3", "Ирина Петрова"],
  ["p4", "山田太郎"],
  ["p5", "Οδυσσέας"],
];

export const FOUND_AFTER_UPGRADE = [
  ["émile", ["p1"]],
  ["EMILE", ["p1"]],
  ["ØYVIND", ["p2"]],
  ["ирина", ["p3"]],
  ["太郎", ["p4"]],
  ["ΟΔΥΣΣΕΑΣ", ["p5"]],
] as const;
