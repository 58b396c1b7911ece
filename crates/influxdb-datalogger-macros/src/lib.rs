//! `#[influxdb_datalogger::test]`: a drop-in for `#[test]` that records one point per test
//! (duration, outcome, names and the run's tags) through `influxdb_datalogger::testing`. Use it
//! through the `influxdb-datalogger` crate, which re-exports it.

use proc_macro::TokenStream;
use quote::quote;
use syn::{parse_macro_input, ItemFn, Path, ReturnType};

/// Marks a test as `#[test]` does, and records it: one point when it ends, with its duration
/// (monotonic), its outcome (`passed` or `failed`; a panic is a failure, unless the test is
/// `#[should_panic]`, whose expected panic passes) and the run's tags. The test's result is not
/// changed. `#[influxdb_datalogger::test(tokio::test)]` puts another test attribute in
/// `#[test]`'s place, for async tests; `#[influxdb_datalogger::test(rstest)]` records each
/// `#[case]` (or `#[values]` combination) as a test of its own.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    let inner: Option<Path> = if args.is_empty() {
        None
    } else {
        Some(parse_macro_input!(args as Path))
    };
    let function = parse_macro_input!(item as ItemFn);
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = function;
    let name = sig.ident.to_string();
    let should_panic = attrs.iter().any(|a| a.path().is_ident("should_panic"));
    let output = match &sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    };
    let test_attribute = match inner {
        Some(path) => quote!(#[#path]),
        None => quote!(#[::core::prelude::v1::test]),
    };
    let run = if sig.asyncness.is_some() {
        quote!(async move #block.await)
    } else {
        quote!((move || -> #output #block)())
    };
    quote! {
        #test_attribute
        #(#attrs)*
        #vis #sig {
            let __influxdb_datalogger_test =
                ::influxdb_datalogger::testing::TestRun::start(module_path!(), #name, #should_panic);
            let __influxdb_datalogger_result: #output = #run;
            __influxdb_datalogger_test.finish(&__influxdb_datalogger_result);
            __influxdb_datalogger_result
        }
    }
    .into()
}
