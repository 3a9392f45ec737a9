# Every gem a Gemfile declares, with its groups, as Bundler reads it (the Gemfile is evaluated as
# Ruby: only trusted files). Prints "name<TAB>group,group". Usage: ruby gem_groups.rb GEMFILE
require "bundler"
Dir.chdir(File.dirname(ARGV[0]))
dsl = Bundler::Dsl.new
dsl.eval_gemfile(File.basename(ARGV[0]))
dsl.dependencies.each { |d| puts "#{d.name}\t#{d.groups.join(",")}" }
