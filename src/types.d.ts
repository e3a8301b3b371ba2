declare module "*.sql" {
  const text: string;
  export default text;
}

// A stylesheet imported by a module of the web client: Bun's bundler adds it to the page's CSS.
declare module "*.css" {}
